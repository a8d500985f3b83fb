# The audit log is append-only in the database too: UPDATE and DELETE raise, whoever
# issues them. (TRUNCATE is left to the schema's owner, e.g. the test runner's flush;
# dropping an organization drops its schema and with it the log.)

from django.db import migrations

FORWARD = """
CREATE FUNCTION accounts_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER accounts_auditevent_append_only
    BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION accounts_auditevent_refuse_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;
DROP FUNCTION IF EXISTS accounts_auditevent_refuse_change();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_tokens_and_audit"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
