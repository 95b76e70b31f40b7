"""Package discovery for the fixed top-level layout.

The repository's top-level folders (processors/, protos/, clients/,
par_engine/, devnet/) install as subpackages of `sawgrid`. pyproject.toml
alone cannot map several source folders under one package and still find
their subpackages, so they are found here: a new folder with an __init__.py
(a family under processors/, say) is packaged without listing it anywhere.
Everything else about the package is in pyproject.toml.
"""
from setuptools import find_packages, setup

TOP_LEVEL = ("processors", "protos", "clients", "par_engine", "devnet")

packages = []
for top in TOP_LEVEL:
    packages.append(f"sawgrid.{top}")
    packages += [f"sawgrid.{top}.{sub}" for sub in find_packages(top)]

setup(packages=packages, package_dir={f"sawgrid.{top}": top for top in TOP_LEVEL})
