"""The course kit: everything the course needs on top of the library, and nothing the library needs.

`checking` (a learner's `check("03.linear")`, the exercise runner), `exercises` (one module per
notebook: the checks of every exercise), `grading` (the sandbox, the nbgrader plugin, collect,
autograde, feedback, export), `release` and `authoring` (building the student release from
`solutions/`), `lab` and `cli` (the `backprop-lab` command), and the demos and benchmarks.

It imports the library (`backprop_lab.functional`, `nn`, `gradcheck`, `testing`, ...); the library
never imports it (tests/test_architecture.py). Install it with ``pip install 'backprop_lab[course]'``.
See docs/ARCHITECTURE.md.
"""
