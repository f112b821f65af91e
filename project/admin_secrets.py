"""Admin lists that cannot be searched for a secret.

Django's admin filters a list by any of the model's own fields named in the query string, whatever the
sidebar offers, lookups included: a staff member who may only view shards could read a write-only signing
secret one character at a time from the row count (``?signing_secret__regex=^a``). An admin that mixes in
``RefusesLookupsOnSecrets`` names its secret fields; a lookup on one of them is refused as Django refuses a
lookup it does not allow (400, ``DisallowedModelAdminLookup``), and nothing is filtered.
"""

from django.db.models.constants import LOOKUP_SEP


class RefusesLookupsOnSecrets:
    secret_fields: tuple[str, ...] = ()

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.split(LOOKUP_SEP, 1)[0] in self.secret_fields:
            return False
        return super().lookup_allowed(lookup, value, request)
