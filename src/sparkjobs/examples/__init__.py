"""Example jobs bundled with sparkjobs."""
