#!/usr/bin/env python3
"""Build src/checks/english-words.txt: frequent English words that are never proper nouns.

The faithfulness guard (src/checks/) skips a capitalised word at the start of a sentence when it is one of these
("Contacts between …"), and checks it otherwise ("Putin said …"). A word is kept when it is among the
N most frequent English words (wordfreq) and the system dictionary (Debian's wamerican,
/usr/share/dict/words) lists it in lowercase only: "turkey", "china", "may" and "bill" are also names,
so they are left out and stay checked.

    python3 -m venv /tmp/wf && /tmp/wf/bin/pip install wordfreq==3.1.1
    apt-get install wamerican
    /tmp/wf/bin/python scripts/english-words.py 6000 > src/checks/english-words.txt
"""
import sys

import wordfreq

n = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
entries = open("/usr/share/dict/words", encoding="utf-8").read().split()
lower = {w for w in entries if w.islower()}
capitalised = {w.lower() for w in entries if not w.islower()}
words = [
    w
    for w in wordfreq.top_n_list("en", n)
    if w.isalpha() and w.isascii() and len(w) > 1 and w in lower and w not in capitalised
]
print("\n".join(sorted(words)))
