"""Sugar's legacy REST API v4_1 (SugarCRM CE 6.5, SuiteCRM 7): client, query builder, extension."""
