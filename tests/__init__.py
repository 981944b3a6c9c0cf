import pytest

# The shared mail server's set-up asserts as it boots: report their operands as a test's would.
pytest.register_assert_rewrite("tests.mailserver_support")
