-- A claim of webhook deliveries carries a token, and only the holder of the current claim records an
-- outcome: a replica whose lease ran out and was taken over cannot turn `delivered` back into `pending`
-- (issue 14). NULL when the delivery is not claimed.
ALTER TABLE webhook_deliveries ADD COLUMN claim_token uuid;
