"""`python -m pipecat_tts_gateway` runs the `tts-gateway` CLI."""

import sys

from pipecat_tts_gateway.cli import main

sys.exit(main())
