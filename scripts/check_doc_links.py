#!/usr/bin/env python3
"""Every relative link in the repository's Markdown files ([text](path) and
[text](path#anchor)) names a file or directory that exists. Run by `make
test`: a renamed or deleted file must not leave dead links behind (issue
10 found comments and decisions citing files that were never committed).
Usage: check_doc_links.py [REPO_DIR]"""
import os
import re
import subprocess
import sys

LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")


def dead_links(repo):
    out = subprocess.run(["git", "-C", repo, "ls-files", "--cached", "--others",
                          "--exclude-standard", "*.md"],
                         check=True, capture_output=True, text=True).stdout.split()
    dead = []
    for md in out:
        if "node_modules/" in md:
            continue
        path = os.path.join(repo, md)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                for target in LINK.findall(line):
                    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, mailto:
                        continue
                    p = os.path.normpath(os.path.join(os.path.dirname(path), target))
                    if not os.path.exists(p):
                        dead.append(f"{md}:{n}: {target}")
    return dead


def main(argv):
    repo = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    dead = dead_links(repo)
    for d in dead:
        print("check_doc_links: no such file: " + d, file=sys.stderr)
    if dead:
        return 1
    print("check_doc_links: every relative link in the Markdown files resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
