"Shared test helpers: console scripts run in this process (the package is imported once per test process)."
import contextlib, io, os, sys
from importlib.metadata import entry_points
from typing import NamedTuple
from fastcore.script import parse_cli

class ToolResult(NamedTuple):
    "What a console script gave: exit status and its two output streams."
    returncode:int
    stdout:str
    stderr:str

def run_tool(tool:str, *args, cwd=None) -> ToolResult:
    "Run console script `tool` with `args` in this process, its command line parsed as the installed script parses it."
    fn = next(e for e in entry_points(group='console_scripts') if e.name == tool).load()
    out, err, code, argv = io.StringIO(), io.StringIO(), 0, sys.argv
    with contextlib.chdir(cwd or os.getcwd()), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            sys.argv = [tool, *map(str, args)]
            pargs, kwargs, _ = parse_cli(fn.__wrapped__)
            fn(*pargs, **kwargs)
        except SystemExit as e: code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally: sys.argv = argv
    return ToolResult(code, out.getvalue(), err.getvalue())
