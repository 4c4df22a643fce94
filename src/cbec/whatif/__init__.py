"""What if the rules changed? Replay a period's recorded declarations under a reform.

`replay` re-clears the declarations a store recorded in a period twice, in scratch stores, never in
the store itself: once under the current rules (the baseline) and once under the reformed rules.
`report` compares the two runs; `render` shows the comparison as Rich tables, JSON or an HTML page
with charts. docs/whatif.md documents the command, the reform files and the report.
"""
