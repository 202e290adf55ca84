"""The exercise registry: one module per notebook, each calling `checking.api.register`."""
