// Go's net/http posting one OpenAI-style chat completion, for lantern's captures.
// Usage: go run api_client.go URL   (certificates are not verified: the server's is self-signed)
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in French."}]}`
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	client := &http.Client{Transport: transport}
	req, err := http.NewRequest("POST", os.Args[1], strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-test-not-a-real-key")
	res, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	fmt.Println("go", res.StatusCode)
}
