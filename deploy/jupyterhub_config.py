"""JupyterHub for one backprop_lab course on one server (JupyterHub >= 5; read deploy/README.md first).

Who is who: the users in BACKPROP_HUB_INSTRUCTORS form the hub group ``formgrade-backprop_lab`` (nbgrader's
name for a course's graders), those in BACKPROP_HUB_STUDENTS the group ``nbgrader-backprop_lab``. When a
server starts, `configure_server` gives it its role:

* an instructor's server opens the course checkout (BACKPROP_HUB_COURSE_ROOT, default: the folder above
  deploy/) with Formgrader, and reads the course's autograder/nbgrader_config.py;
* a student's server opens the student's home folder with the Assignments tab (fetch, validate, submit,
  fetch feedback) and nothing of the instructor's tools.

Both read the shared exchange from BACKPROP_LAB_EXCHANGE (default /srv/nbgrader/exchange). The role
folders are deploy/jupyter/instructor and deploy/jupyter/student (nbgrader config, server and lab
extensions on or off); the hub points each server's JUPYTER_CONFIG_PATH at its role's folder.

As written, this file is a real course's configuration: system accounts checked with PAM, and
LocalProcessSpawner, which starts each server as that user's own system account, so the operating
system keeps students apart. tests/test_hub.py runs it with two test shortcuts on the command line
(a shared password and SimpleLocalProcessSpawner, every server as root); the README says why a course
must not.
"""
import os
import sys

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

DEPLOY = os.path.dirname(os.path.abspath(__file__))
COURSE_ID = "backprop_lab"  # as in autograder/nbgrader_config.py (c.CourseDirectory.course_id)
INSTRUCTOR_GROUP = f"formgrade-{COURSE_ID}"
STUDENT_GROUP = f"nbgrader-{COURSE_ID}"

COURSE_ROOT = os.path.abspath(os.environ.get("BACKPROP_HUB_COURSE_ROOT", os.path.dirname(DEPLOY)))
EXCHANGE_ROOT = os.path.abspath(os.environ.get("BACKPROP_LAB_EXCHANGE", "/srv/nbgrader/exchange"))
if not os.path.isfile(os.path.join(COURSE_ROOT, "autograder", "nbgrader_config.py")):
    sys.exit(f"jupyterhub_config: {COURSE_ROOT} holds no autograder/nbgrader_config.py; set "
             "BACKPROP_HUB_COURSE_ROOT to the instructor's checkout of the backprop_lab course")


def _names(variable: str) -> list[str]:
    """User names from a comma-separated environment variable."""
    return [name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()]


INSTRUCTORS = _names("BACKPROP_HUB_INSTRUCTORS") or ["instructor"]
STUDENTS = [name for name in _names("BACKPROP_HUB_STUDENTS") if name not in INSTRUCTORS]

# ---------------------------------------------------------------------------------------------- users
c.JupyterHub.authenticator_class = "pam"  # system accounts; see README for OAuth/LTI alternatives
c.Authenticator.allowed_users = set(INSTRUCTORS) | set(STUDENTS)
c.JupyterHub.load_groups = {
    INSTRUCTOR_GROUP: {"users": INSTRUCTORS},
    STUDENT_GROUP: {"users": STUDENTS},
}

# -------------------------------------------------------------------------------------- network, proxy
c.JupyterHub.bind_url = os.environ.get("BACKPROP_HUB_URL", "http://:8000")  # put HTTPS in front of it
# configurable-http-proxy from npm, installed next to this file: `npm ci --prefix deploy`.
_chp = os.path.join(DEPLOY, "node_modules", ".bin", "configurable-http-proxy")
if os.access(_chp, os.X_OK):
    c.ConfigurableHTTPProxy.command = [_chp]

# -------------------------------------------------------------------------------------- the servers
c.JupyterHub.spawner_class = "localprocess"  # one system user per hub user (README: containers)
# The single-user server of the Python that runs the hub (the course's virtualenv), in JupyterLab.
c.Spawner.cmd = [os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120  # JupyterLab with nbgrader takes a while to answer on a busy machine
c.Spawner.start_timeout = 180


def _is_instructor(spawner) -> bool:
    return any(group.name == INSTRUCTOR_GROUP for group in spawner.user.groups)


def configure_server(spawner) -> None:
    """Give a server its role: JUPYTER_CONFIG_PATH, the exchange, and the folder it opens."""
    env = {"BACKPROP_LAB_EXCHANGE": EXCHANGE_ROOT}
    if _is_instructor(spawner):
        # deploy/jupyter/instructor first (it wins), then the course's own nbgrader configuration.
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([os.path.join(DEPLOY, "jupyter", "instructor"),
                                                      os.path.join(COURSE_ROOT, "autograder")])
        spawner.notebook_dir = COURSE_ROOT
    else:
        env["JUPYTER_CONFIG_PATH"] = os.path.join(DEPLOY, "jupyter", "student")
    spawner.environment = {**spawner.environment, **env}
    # A spawner that does not switch to the user's own account runs the server as the hub's user;
    # Jupyter refuses to run as root unless told to (the test's shortcut, see README).
    if os.geteuid() == 0 and not _switches_user(spawner):
        spawner.args = [*spawner.args, "--allow-root"]


def _switches_user(spawner) -> bool:
    """Whether the spawner starts the server under the user's own system account."""
    from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner

    return isinstance(spawner, LocalProcessSpawner) and not isinstance(spawner, SimpleLocalProcessSpawner)


c.Spawner.pre_spawn_hook = configure_server

# ------------------------------------------------------------------------------------ the exchange
# World-writable with the sticky bit (like /tmp): everyone may create the course folder's entries
# nbgrader needs, nobody may rename or delete another user's. nbgrader then creates
# <root>/backprop_lab/{outbound 755, inbound 2733, feedback 711} on the instructor's first release.
if not os.path.isdir(EXCHANGE_ROOT):
    try:
        os.makedirs(EXCHANGE_ROOT)
        os.chmod(EXCHANGE_ROOT, 0o1777)
    except PermissionError:
        print(f"jupyterhub_config: cannot create the exchange {EXCHANGE_ROOT}; create it as root: "
              f"mkdir -p {EXCHANGE_ROOT} && chmod 1777 {EXCHANGE_ROOT}", file=sys.stderr)
