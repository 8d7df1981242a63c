"""The maps of the code stay true: every file in src/ is listed in docs/architecture.md's
"The rooms" table and in the README's source map, and neither lists a src/ file that is gone."""

import glob
import os
import re

from harness import REPO, Suite

suite = Suite()


def src_files():
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "src", "*"))
                  if p.endswith((".cpp", ".h")))


def read(path):
    with open(os.path.join(REPO, path)) as f:
        return f.read()


def rooms_table():
    text = read("docs/architecture.md")
    m = re.search(r"^## The rooms.*?\n(.*?)\n## ", text, re.S | re.M)
    assert m, "docs/architecture.md has no '## The rooms' section"
    return m.group(1)


@suite.test
def every_src_file_has_its_line_in_architecture_md_and_no_line_names_a_file_that_is_gone():
    table = rooms_table()
    first_cells = re.findall(r"^\|([^|\n]*)\|", table, re.M)  # a file, and its private header
    named = {f for cell in first_cells for f in re.findall(r"`([\w.]+\.(?:cpp|h))`", cell)}
    named -= {os.path.basename(h) for h in glob.glob(os.path.join(REPO, "include", "sflow_monitor", "*.h"))}
    missing = [f for f in src_files() if f not in named]
    assert not missing, "src/ files without a line in docs/architecture.md's rooms: %s" % missing
    gone = sorted(named - set(src_files()))
    assert not gone, "docs/architecture.md's rooms list files src/ no longer has: %s" % gone


@suite.test
def every_src_file_is_in_the_readme_source_map():
    text = read("README.md")
    missing = [f for f in src_files() if "`src/%s`" % f not in text]
    assert not missing, "src/ files missing from the README's source map: %s" % missing
    gone = sorted(set(re.findall(r"`src/([\w.]+\.(?:cpp|h))`", text)) - set(src_files()))
    assert not gone, "the README names src/ files that are gone: %s" % gone


suite.run()
