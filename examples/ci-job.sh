#!/bin/sh
# A CI step that runs a test suite in a memshim store and fails the build
# when any write was refused, even if the suite swallowed the error: a
# suite that needs more scratch space than the budget is a finding, not
# a flaky machine. The JSON report is left for the CI to keep as an
# artifact.
#
#   sh examples/ci-job.sh make check
#
# In a CI configuration, the same as one step, e.g. in a YAML job:
#
#   - run: memshim-run --quota 1G --report memshim-report.json
#            --fail-on-refusal -- make check
#
# QUOTA (default 1G) and REPORT (default memshim-report.json) override the
# budget and the report's path; MEMSHIM_RUN names memshim-run when it is
# not on PATH.
set -u
exec "${MEMSHIM_RUN:-memshim-run}" --quota "${QUOTA:-1G}" \
	--report "${REPORT:-memshim-report.json}" --fail-on-refusal -- "$@"
