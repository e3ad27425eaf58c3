// Verifies a Gatehouse access token in Go (documented, not run by the tests).
// go get github.com/golang-jwt/jwt/v5 github.com/MicahParks/keyfunc/v3
// Usage: go run verify.go <issuer> <audience> <access token>
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

func main() {
	issuer, audience, token := os.Args[1], os.Args[2], os.Args[3]

	// Where the keys are: the discovery document names the JWKS URL.
	resp, err := http.Get(strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration")
	if err != nil {
		panic(err)
	}
	var discovery struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&discovery); err != nil || discovery.Issuer != issuer {
		panic("bad discovery document")
	}
	// Create once per process: it caches the keys and refreshes them.
	jwks, err := keyfunc.NewDefault([]string{discovery.JWKSURI})
	if err != nil {
		panic(err)
	}

	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(token, claims, jwks.Keyfunc,
		jwt.WithValidMethods([]string{"ES256"}), // never what the header asks for
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		// jwt.WithLeeway(30*time.Second) if clocks may drift
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rejected:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(claims)
	fmt.Println(string(out))
}
