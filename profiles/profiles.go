// Package profiles embeds the profiles shipped with nettune, so that a
// profile can say `extends: <name>` and `nettune apply <name>` works without
// a file.
package profiles

import "embed"

// FS holds the shipped profiles, one <name>.yaml each.
//
//go:embed *.yaml
var FS embed.FS
