"""How long a test waits for a process, a file or a state before it calls it a hang.

A guard against a test that would otherwise wait forever, never a claim about speed: a loaded
CI machine (a load of 15 on 2 cores made the 4-minute suite take 37) must not reach it. Every
subprocess ``timeout=`` and every polling loop of the suite waits this long; a test that means
"this finishes quickly" asserts an order of events or a count instead (issue 21, item 8).
"""

HANG_S = 900
