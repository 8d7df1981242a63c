"""The mutation table stays true without running it (that is `make mutate`, docs/testing.md):
every mutation's text occurs exactly once where scripts/mutate looks for it, every test it
names exists, and docs/testing.md holds the table as `scripts/mutate --list` prints it."""

import os
import re
import subprocess

import harness
from harness import Suite

suite = Suite()
MUTATE = os.path.join(harness.REPO, "scripts", "mutate")


def table():
    return subprocess.run([MUTATE, "--list"], capture_output=True, text=True, check=True,
                          timeout=harness.TIMEOUT).stdout


@suite.test
def every_mutation_finds_its_text_exactly_once():
    stale = [line for line in table().splitlines() if "(STALE)" in line]
    assert not stale, ("code a mutation breaks has moved or changed: update its row in "
                       "scripts/mutate (and docs/testing.md):\n" + "\n".join(stale))


@suite.test
def every_test_the_table_names_exists():
    unit_names = set()
    for f in os.listdir(os.path.join(harness.REPO, "test")):
        if f.endswith("_test.cpp"):
            with open(os.path.join(harness.REPO, "test", f)) as src:
                unit_names |= set(re.findall(r'TEST_CASE\("((?:[^"\\]|\\.)*)"', src.read()))
    missing = []
    for line in table().splitlines()[2:]:
        for test in line.split(" | ")[-1].rstrip(" |").split("<br>"):
            kind, _, name = test.partition(": ")
            if kind == "unit":
                if name not in unit_names:
                    missing.append(test)
            else:
                with open(os.path.join(harness.REPO, kind)) as src:
                    if "def %s(" % name.replace(" ", "_") not in src.read():
                        missing.append(test)
    assert not missing, "tests named in scripts/mutate that do not exist:\n" + "\n".join(missing)


@suite.test
def docs_testing_md_holds_the_table_scripts_mutate_runs():
    with open(os.path.join(harness.REPO, "docs", "testing.md")) as f:
        doc = f.read()
    assert table().strip() in doc, "docs/testing.md: paste the output of scripts/mutate --list"


if __name__ == "__main__":
    suite.run()
