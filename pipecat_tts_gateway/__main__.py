"""`python -m pipecat_tts_gateway` runs the `tts-gateway` CLI; with no arguments, `serve`."""

import sys

from pipecat_tts_gateway.cli import main

sys.exit(main(sys.argv[1:] or ["serve"]))
