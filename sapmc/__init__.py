"""SAP Marketing Cloud: its OData client, the campaign mirror, and (inbound/) the API it calls."""
