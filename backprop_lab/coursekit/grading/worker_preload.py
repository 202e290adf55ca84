"""Imported by the process that local grading workers are forked from (multiprocessing's fork
server): each worker starts with nbformat, torch and the exercise registry already imported."""
from .startup import warm_up

warm_up()
