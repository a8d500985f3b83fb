from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import receivers, schema  # noqa: F401  (signal receivers, OpenAPI)
        from accounts.selectors import members_count
        from tenants.usage import level_counter_register

        level_counter_register("members", members_count)
