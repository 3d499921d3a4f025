"""Stratus infrastructure components (Pulumi).

The package lives in ``platform/infra`` because ``platform`` itself is a standard-library module
name: the Pulumi program folder must not be a package.
"""
