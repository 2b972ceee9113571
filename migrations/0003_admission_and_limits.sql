-- The allowed organizations a user belonged to at login (JSON array of {id, login}, NULL for
-- none), so a changed allow-list can be applied again to sessions and OAuth grants.
ALTER TABLE sessions ADD COLUMN orgs TEXT;
ALTER TABLE oauth_grants ADD COLUMN orgs TEXT;
-- Where a client registered from (an IPv4 address or an IPv6 /64), for the per-address cap.
ALTER TABLE oauth_clients ADD COLUMN registered_from TEXT;
