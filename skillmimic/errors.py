"""One exception type for problems the user can fix.

Its message is a single line that names the file, key or value at fault and what was
expected; the CLI prints it without a traceback.
"""


class SkillMimicError(Exception):
    """A user-facing error with a one-line message."""
