-- Developers (console role `developer`) are bound to one consumer: the one whose keys
-- and usage the developer portal shows them. NULL for every other role.
ALTER TABLE users ADD COLUMN consumer TEXT;
