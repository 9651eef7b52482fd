"""Prints the commands of README.md's "Try it" block, one a line, exactly as written.

The block is the first ```sh fence under "## Try it": a comment line, then one command, twice
(the drill, then the tests). Anything else is an error, so a changed README fails CI loudly
instead of CI testing a paraphrase.
"""

import sys


def commands(text):
    lines = text.splitlines()
    try:
        start = lines.index("## Try it")
    except ValueError:
        raise SystemExit('readme: no "## Try it" section')
    fence = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == "```sh"), None)
    if fence is None or any(l.startswith("## ") for l in lines[start + 1 : fence]):
        raise SystemExit('readme: no ```sh block under "## Try it"')
    end = next((i for i in range(fence + 1, len(lines)) if lines[i].strip() == "```"), None)
    if end is None:
        raise SystemExit("readme: the ```sh block under \"## Try it\" is not closed")
    found = [l.strip() for l in lines[fence + 1 : end] if l.strip() and not l.strip().startswith("#")]
    if len(found) != 2:
        raise SystemExit(f"readme: expected 2 commands in the Try it block, found {len(found)}: {found}")
    if "drill" not in found[0] or "test" not in found[1]:
        raise SystemExit(f"readme: expected the drill, then the tests: {found}")
    return found


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        print("\n".join(commands(f.read())))
