"""Email addresses as the database compares them.

MySQL's (and MariaDB's) default collation for utf8mb4 is case- and accent-insensitive: `e@x.io`
and `é@X.io` are one value to the unique key on a campaign's recipients, where Python sees two.
`collation_key` folds them the same way (NFKD, combining marks dropped, casefolded), so two
addresses the database would refuse as duplicates are refused first, with a message.
"""

from __future__ import annotations

import unicodedata


def collation_key(email: str) -> str:
    decomposed = unicodedata.normalize("NFKD", email.strip())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold()
