# Homebrew formula for the pixie CLI and daemon (macOS and Linux). The
# menu-bar app ships as the signed .pkg from `make macos-pkg`.
#
# To publish: copy into a tap (e.g. pixie-boot/homebrew-tap/Formula/pixie.rb),
# set url and sha256 to a release tarball:
#   curl -sL https://github.com/pixie-boot/pixie/archive/refs/tags/vX.Y.Z.tar.gz | shasum -a 256
class Pixie < Formula
  desc "Network-boot CoreOS machines: proxyDHCP, TFTP and HTTP in one daemon"
  homepage "https://github.com/pixie-boot/pixie"
  url "https://github.com/pixie-boot/pixie/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "Apache-2.0"
  head "https://github.com/pixie-boot/pixie.git", branch: "main"

  depends_on "go" => :build

  def install
    # cgo builds SQLite (mattn/go-sqlite3) into the binary.
    ENV["CGO_ENABLED"] = "1"
    system "go", "build", *std_go_args(ldflags: "-s -w -X main.version=#{version}"), "./cmd/pixie"
  end

  def caveats
    <<~EOS
      pixie binds the DHCP and TFTP ports, so it runs as root. Install it as a
      system service (a LaunchDaemon on macOS, a systemd unit on Linux) with the
      stable Homebrew path, so upgrades keep working:
        sudo #{HOMEBREW_PREFIX}/bin/pixie install service --executable #{HOMEBREW_PREFIX}/bin/pixie
      then check everything network boot needs:
        sudo pixie doctor
      After `brew upgrade pixie`, restart it: sudo pixie restart
    EOS
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/pixie --version")
    # No daemon runs in the test sandbox: doctor says so and exits 1.
    output = shell_output("#{bin}/pixie doctor --json --socket #{testpath}/none.sock --data-dir #{testpath}", 1)
    assert_match "\"checks\"", output
  end
end
