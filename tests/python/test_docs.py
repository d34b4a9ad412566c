"""The examples of docs/python.md run as doctests, the later ones against a real cluster; the
package docstring's example too."""

from __future__ import annotations

import doctest
from pathlib import Path

import pitr
from pgcluster import Cluster, tick

ROOT = Path(__file__).resolve().parents[2]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_the_package_docstring() -> None:
    result = doctest.testmod(pitr, optionflags=FLAGS, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0


def test_python_md_examples_run() -> None:
    cluster = Cluster("docs", cipher_pass="Docs.Cipher-Pass-42")
    try:
        cluster.write_pgbackrest_conf()
        cluster.start()
        cluster.psql("CREATE TABLE t (id int, batch int)")
        pitr.plan_backup(cluster.spec, "full").run(echo=False)
        tick()
        cluster.batch(1)
        tick()
        t1 = cluster.now()
        tick()
        cluster.batch(2)
        pitr.mark(cluster.spec, "before-200")
        cluster.batch(3)
        cluster.archive_now()
        globs = {
            "spec": cluster.spec,
            "info_text": cluster.info_text(),
            "t1": t1,
            "count": cluster.count,
        }
        result = doctest.testfile(str(ROOT / "docs" / "python.md"), module_relative=False,
                                  globs=globs, optionflags=FLAGS, raise_on_error=False,
                                  verbose=False)
        assert result.attempted >= 30, result
        assert result.failed == 0, f"{result.failed} example(s) of docs/python.md failed (above)"
        assert "Docs.Cipher-Pass-42" not in (ROOT / "docs" / "python.md").read_text()
    finally:
        cluster.close()
