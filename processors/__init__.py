"""Sawgrid's Sawtooth transaction processors.

Importing this package installs the SDK compatibility layer
(`sdk_compat.install()`), so `sawtooth_sdk.processor` works on Python 3.11.
"""
from sawgrid.processors import sdk_compat

sdk_compat.install()
