"""The one exception type that carries a user-facing message."""


class PlannerError(Exception):
    """Bad input or an impossible plan.

    The message is one line that says what is wrong and how to fix it; the CLI prints it
    and exits with status 2. Raise it at the boundary, never for programming errors.
    """
