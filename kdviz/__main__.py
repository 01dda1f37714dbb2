"""``python -m kdviz``: see :mod:`kdviz.cli`."""

import sys

from kdviz.cli import main

sys.exit(main())
