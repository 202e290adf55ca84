"""backprop_lab: backpropagation from the chain rule to a CNN, in numpy, checked against PyTorch.

Subpackages (imported on demand so that `import backprop_lab` stays fast and torch-free):
`functional` (forward/backward pairs), `nn` (modules), `optim`, `scalar` (a scalar autograd),
`gradcheck` (the one checking helper), `torch_ref` (torch twins), `data`, `train`, `plots`.
"""
__version__ = "0.1.0"
