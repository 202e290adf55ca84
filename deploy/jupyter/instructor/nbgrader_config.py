"""nbgrader settings of the instructor's single-user server on the course hub (deploy/jupyterhub_config.py).

The hub sets JUPYTER_CONFIG_PATH of the instructor's server to this folder followed by the course's
autograder/ folder, so the course's own configuration (autograder/nbgrader_config.py: course id,
folders, gradebook, the sandboxed autograder) applies and this file, read with higher priority, only
replaces the exchange by the hub's shared one. Run nbgrader on the command line the same way:
``JUPYTER_CONFIG_PATH=deploy/jupyter/instructor:autograder nbgrader release_assignment 01_chain_rule``.
"""
import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.Exchange.root = os.environ.get("BACKPROP_LAB_EXCHANGE", "/srv/nbgrader/exchange")
