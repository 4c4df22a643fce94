"""The one error type of the policy package: data that cannot be used, with where and why."""


class PolicyDataError(ValueError):
    """A parameter, positive-list or tariff file that cannot be used; the message says where."""
