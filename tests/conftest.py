"""Suite-wide settings.

Pages prefetch their main slider's other positions in the background (``ui.cached``'s
``prefetch``): for a class that is what makes sliding instant, for the test suite it is minutes of
CPU nobody waits for. It is off for the suite (servers the browser tests start inherit this) and on
in the tests of prefetching itself."""

import os

os.environ["KDVIZ_PREFETCH"] = "0"
