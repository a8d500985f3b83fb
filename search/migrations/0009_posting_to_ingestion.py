# The keyword index's postings now belong to ingestion (ingestion 0010). State only:
# the table search_posting stays. A later search migration that names the table
# must depend on ingestion 0010.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0008_audit_log_erasure"),
        # Deleted from search's state only once ingestion owns it.
        ("ingestion", "0010_posting"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="Posting")],
        ),
    ]
