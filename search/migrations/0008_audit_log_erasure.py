# Erasure (GDPR) must be able to blank a person's identity in the audit log, which
# accounts 0003 made append-only with a trigger. This replaces the trigger's function
# so that one narrow UPDATE passes: only while the transaction-local setting
# ``opaa.audit_erasure`` is on (accounts.audit.audit_pseudonymize_*), and only if the
# event's action, time, target, actor id and organization stay unchanged. DELETE is
# still refused. It lives here because the erasure work owns search's migrations; it
# runs in every organization schema, where erasure happens.

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION accounts_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('opaa.audit_erasure', true) = 'on'
       AND NEW.id = OLD.id
       AND NEW.created_at = OLD.created_at
       AND NEW.action = OLD.action
       AND NEW.target_type = OLD.target_type
       AND NEW.target_id = OLD.target_id
       AND NEW.organization = OLD.organization
       AND NEW.actor_user_id IS NOT DISTINCT FROM OLD.actor_user_id
       AND NEW.actor_token_id IS NOT DISTINCT FROM OLD.actor_token_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

REVERSE = """
CREATE OR REPLACE FUNCTION accounts_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_auditevent_append_only"),
        ("search", "0007_answer_settings_retention"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
