"""Change sources: read what changed in Gmail, Drive or a calendar since a cursor.

Each source only reads from Google and turns changes into feed items; committing them
(and moving the cursor) is the sync runner's job.
"""
