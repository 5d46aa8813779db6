"""The test suite, one package per domain; shared helpers in tests.support."""
