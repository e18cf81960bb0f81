// Command placement is Dapr's actor placement service (workflows run on actors).
package main

import "github.com/dapr/dapr/cmd/placement/app"

func main() {
	app.Run()
}
