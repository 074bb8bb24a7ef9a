module github.com/medshare/medshare

go 1.26.8

require (
	github.com/hashicorp/golang-lru/v2 v2.0.7
	golang.org/x/crypto v0.59.0
)
