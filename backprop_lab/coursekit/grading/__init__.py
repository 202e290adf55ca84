"""Honest grading: student code runs in a sandboxed child; verdicts are computed here."""
