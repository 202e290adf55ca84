"""nbgrader settings of a student's single-user server on the course hub (deploy/jupyterhub_config.py).

The hub points JUPYTER_CONFIG_PATH of every student's server here. Students see the Assignments tab
(fetch, validate, submit, fetch feedback); Formgrader, the course list and the create-assignment
toolbar are switched off in this folder's jupyter_server_config.json and labconfig/page_config.json.
"""
import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = "backprop_lab"
# The shared exchange: the hub passes its path (deploy/jupyterhub_config.py, EXCHANGE_ROOT).
c.Exchange.root = os.environ.get("BACKPROP_LAB_EXCHANGE", "/srv/nbgrader/exchange")
# The student id is the hub user name. nbgrader takes it from the operating-system user (and from
# JUPYTERHUB_USER only for the user "jovyan"); with one system user per student both are the same,
# and a server that runs under a shared account (containers, or the test's root) still submits under
# its own hub name.
if os.environ.get("JUPYTERHUB_USER"):
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
