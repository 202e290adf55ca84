"""nbgrader's gradebook preprocessors, using the batch's one open `Gradebook` instead of their own.

`OverwriteKernelspec`, `OverwriteCells`, `SaveAutoGrades` and `AssignLatePenalties` each open the
gradebook for every notebook they see: a new SQLAlchemy engine, a check of every table, SQL compiled
again without a cache. Recording a student that way cost ~0.2 s, as much as grading notebook 01.
These subclasses run nbgrader's own per-cell methods unchanged; only where the gradebook comes
from differs: ``resources["gradebook"]``, opened once per batch by `recording.Recorder`.
"""
from __future__ import annotations

import json

from nbgrader.preprocessors import (
    AssignLatePenalties,
    NbGraderPreprocessor,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)


def _ids(pp, resources) -> None:
    info = resources["nbgrader"]
    pp.notebook_id, pp.assignment_id = info["notebook"], info["assignment"]
    pp.student_id, pp.db_url = info.get("student"), info["db_url"]
    pp.gradebook = resources["gradebook"]


class SharedOverwriteKernelspec(OverwriteKernelspec):
    def preprocess(self, nb, resources):
        _ids(self, resources)
        kernelspec = self.gradebook.find_notebook(self.notebook_id, self.assignment_id).kernelspec
        if kernelspec:
            nb.metadata["kernelspec"] = json.loads(kernelspec)
        return nb, resources


class SharedOverwriteCells(OverwriteCells):
    def preprocess(self, nb, resources):
        _ids(self, resources)
        nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # each cell: preprocess_cell
        if self.add_missing_cells:
            nb, resources = self.add_missing_grade_cells(nb, resources)
            nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources


class SharedSaveAutoGrades(SaveAutoGrades):
    def preprocess(self, nb, resources):
        _ids(self, resources)
        return NbGraderPreprocessor.preprocess(self, nb, resources)  # each cell: _add_score, _add_comment


class SharedAssignLatePenalties(AssignLatePenalties):
    def preprocess(self, nb, resources):
        _ids(self, resources)
        self.init_plugin()
        submission = self.gradebook.find_submission(self.assignment_id, self.student_id)
        notebook = self.gradebook.find_submission_notebook(self.notebook_id, self.assignment_id, self.student_id)
        notebook.late_submission_penalty = None
        if submission.total_seconds_late > 0:
            penalty = self.plugin_inst.late_submission_penalty(self.student_id, notebook.score,
                                                               submission.total_seconds_late)
            if penalty is not None:
                notebook.late_submission_penalty = self._check_late_penalty(notebook, penalty)
        self.gradebook.db.commit()
        return nb, resources


SHARED = {OverwriteKernelspec: SharedOverwriteKernelspec, OverwriteCells: SharedOverwriteCells,
          SaveAutoGrades: SharedSaveAutoGrades, AssignLatePenalties: SharedAssignLatePenalties}


def preprocessors(classes, parent) -> list:
    """Instances of nbgrader preprocessor `classes` (or their import names), configured from `parent`,
    with the gradebook-opening ones replaced by their shared versions."""
    from traitlets.utils.importstring import import_item

    out = []
    for cls in classes:
        cls = import_item(cls) if isinstance(cls, str) else cls
        out.append(SHARED.get(cls, cls)(parent=parent))
    return out
