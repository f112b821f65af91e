"""Sentry set-up, only when SENTRY_DSN is given: Django, RQ and logging integrations."""


def init_sentry(dsn, *, debug=False):
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), RqIntegration()],
        send_default_pii=False,
        environment="development" if debug else "production",
    )
