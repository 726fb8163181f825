"""``python -m unisafe_pytest.cli``: the ``unisafe`` command."""

import sys

from unisafe_pytest.cli.main import main

sys.exit(main())
