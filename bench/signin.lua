-- wrk script: POST /v1/signin with the bench user's credentials.
-- The JSON body comes from the SIGNIN_BODY environment variable, e.g.
--   SIGNIN_BODY='{"email":"a@example.com","password":"..."}' wrk -s bench/signin.lua URL/v1/signin
wrk.method = "POST"
wrk.body = os.getenv("SIGNIN_BODY") or error("SIGNIN_BODY is not set")
wrk.headers["Content-Type"] = "application/json"
