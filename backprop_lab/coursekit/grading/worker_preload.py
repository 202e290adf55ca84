"""Imported by the process that local grading workers are forked from (multiprocessing's fork
server): each worker starts with nbformat, torch and the exercise registry imported, one thread each."""
from .startup import grading_process

grading_process()
