"""Sawgrid's Sawtooth transaction processors: one folder per family, listed in `registry.py`.

Importing this package installs the SDK compatibility layer
(`protos.sdk_compat.install()`), so `sawtooth_sdk.processor` works on Python 3.11.
"""
from sawgrid.protos import sdk_compat

sdk_compat.install()
